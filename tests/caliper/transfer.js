'use strict';
// Caliper workload: each worker mints itself tokens once, then sends ERC-20 transfers.
const { WorkloadModuleBase } = require('@hyperledger/caliper-core');

class TransferWorkload extends WorkloadModuleBase {
    async initializeWorkloadModule(workerIndex, totalWorkers, roundIndex, roundArguments, sutAdapter, sutContext) {
        await super.initializeWorkloadModule(workerIndex, totalWorkers, roundIndex, roundArguments, sutAdapter, sutContext);
        if (roundIndex === 0) {
            await this.sutAdapter.sendRequests({ contract: 'token', verb: 'faucet', args: ['1000000000000000000000000'], readOnly: false });
        }
    }

    async submitTransaction() {
        const to = '0x' + Math.floor(Math.random() * 2 ** 48).toString(16).padStart(40, '0');
        await this.sutAdapter.sendRequests({ contract: 'token', verb: 'transfer', args: [to, 1], readOnly: false });
    }
}

module.exports.createWorkloadModule = () => new TransferWorkload();
