# Two stages: build a wheel with the toolchain, run it on a slim image as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-cache-dir --upgrade pip build \
 && python -m build --wheel --outdir /wheels \
 && pip wheel --no-cache-dir --wheel-dir /wheels /wheels/*.whl

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WANBOT_CONFIG=/config/config.toml
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin wanbot \
 && mkdir -p /data /config && chown wanbot /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels wanbot && rm -rf /wheels
# The example config (every default, sandbox provider) so the image runs as is; mount your own
# config.toml over it, read-only. Secrets come from the environment: DISCORD_TOKEN, WAN_API_KEY,
# WANBOT_WEBHOOK_SECRET.
COPY config.example.toml /config/config.toml
USER wanbot
# Working directory /: the default [database] path "data/wanbot.sqlite3" is then
# /data/wanbot.sqlite3, inside the volume. An absolute path in your config works as well.
WORKDIR /
# The database (and backups, if you write them there) live here; mount a volume so they survive.
VOLUME ["/data"]
# The web server ([web] enabled = true, host = "0.0.0.0"): callbacks, /healthz, /metrics.
EXPOSE 8080
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
