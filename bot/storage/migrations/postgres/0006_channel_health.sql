-- The two partial indexes behind a channel's delivery health (as ../0006_channel_health.sql).

-- The newest successful post in a channel.
CREATE INDEX jobs_delivered_by_channel ON jobs (guild_id, channel_id, delivered_at) WHERE state = 'delivered';
-- Deliveries given up in a channel, newest last.
CREATE INDEX jobs_delivery_failed_by_channel ON jobs (guild_id, channel_id, finished_at)
    WHERE error_code = 'delivery_failed';
