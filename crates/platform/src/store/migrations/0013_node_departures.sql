-- A validator voted out of its network's first channel keeps voting until the epoch that no
-- longer has it begins; the platform stops and deletes it once the network is past this height.
ALTER TABLE nodes ADD COLUMN leaves_at_height BIGINT;
