-- Whether a channel's deliveries keep failing is read from the jobs on every /video there
-- (bot/storage/channel_health.py). These two small partial indexes keep that read to a few
-- index probes per channel, however many jobs the table holds.

-- The newest successful post in a channel.
CREATE INDEX jobs_delivered_by_channel ON jobs (guild_id, channel_id, delivered_at) WHERE state = 'delivered';
-- Deliveries given up in a channel, newest last.
CREATE INDEX jobs_delivery_failed_by_channel ON jobs (guild_id, channel_id, finished_at)
    WHERE error_code = 'delivery_failed';
