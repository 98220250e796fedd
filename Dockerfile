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
USER wanbot
WORKDIR /data
# The database lives here; mount a volume so it survives the container.
VOLUME ["/data"]
# Mount config.toml at /config/config.toml (read-only) and pass DISCORD_TOKEN / WAN_API_KEY
# in the environment. Set [database] path = "/data/wanbot.sqlite3" in that file.
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
