# Two stages: install the locked dependencies and the bot into a venv, then copy that venv onto a
# slim image that runs as an unprivileged user (uid 10001).
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/wanbot
# Dependencies first, exactly as locked (scripts/lock.sh): a code change reuses this layer
# instead of downloading and building every wheel again.
COPY requirements/runtime.txt requirements/runtime.txt
RUN /opt/wanbot/bin/pip install --no-cache-dir --disable-pip-version-check \
      --require-hashes --no-deps -r requirements/runtime.txt
# Then the bot itself, built with the locked setuptools (no other download).
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN /opt/wanbot/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps --no-build-isolation .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="wanbot" \
      org.opencontainers.image.description="Self-hosted Discord bot for Wan 2.6 video generation with per-member credit allowances" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="0.1.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/wanbot/bin:$PATH \
    WANBOT_CONFIG=/config/config.toml
RUN groupadd --system --gid 10001 wanbot \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin wanbot \
 && mkdir -p /data /config && chown 10001:10001 /data
COPY --from=build /opt/wanbot /opt/wanbot
# The example config (every default, sandbox provider) so the image runs as is, with the database
# in the volume. Mount your own config.toml over it, read-only, with an absolute [database] path
# such as "/data/wanbot.sqlite3" (a relative one is relative to /config). Secrets come from the
# environment: DISCORD_TOKEN, WAN_PROVIDER + WAN_API_KEY, WANBOT_WEBHOOK_SECRET.
COPY config.example.toml /config/config.toml
RUN sed -i 's|^path = "data/wanbot.sqlite3"|path = "/data/wanbot.sqlite3"|' /config/config.toml \
 && grep -q '^path = "/data/wanbot.sqlite3"' /config/config.toml
# Numeric, so a runtime can tell it is not root without reading /etc/passwd.
USER 10001:10001
WORKDIR /data
# The database (and backups, if you write them there) live here; mount a volume so they survive.
VOLUME ["/data"]
# The web server ([web] enabled = true, host = "0.0.0.0"): callbacks, /healthz, /metrics.
EXPOSE 8080
# The bot stops gracefully on SIGTERM: the job loop's current tick may take up to 15 s, so give
# `docker stop` more than its default 10 s (docker stop -t 30, or stop_grace_period in compose.yaml).
STOPSIGNAL SIGTERM
# /healthz when [web] is on, else the database file (python -m bot health).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["python", "-m", "bot", "health"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
