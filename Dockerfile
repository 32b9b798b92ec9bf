# syntax=docker/dockerfile:1
# Sini: multi-stage build. The builder installs the project, compiles the gettext
# catalogs and trains the NLU model; the runtime image carries the result and runs as an
# unprivileged user. Configure with environment variables (see README).

FROM python:3.10-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 RASA_TELEMETRY_ENABLED=false \
    NLU_PROJECT=/app/nlu MODEL_DIR=/app/models SINI_VAR_DIR=/tmp/sini
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY tips ./tips
COPY staff ./staff
COPY sini ./sini
RUN pip install pip==26.3 setuptools==70.3.0 wheel==0.45.1 && pip install .
COPY babel.cfg ./
COPY nlu ./nlu
COPY responses ./responses
COPY locales ./locales
COPY deploy ./deploy
RUN for po in locales/*/LC_MESSAGES/messages.po; do \
      lang=$(basename "$(dirname "$(dirname "$po")")"); \
      pybabel compile -D messages -i "$po" -o "${po%.po}.mo" -l "$lang"; \
    done \
 && SINI_SECRET=0000000000000000000000000000000000000000000000000000000000000000 helpline train

FROM python:3.10-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RASA_TELEMETRY_ENABLED=false \
    LOG_FORMAT=json \
    MODEL_DIR=/app/models \
    NLU_PROJECT=/app/nlu \
    RESPONSES_DIR=/app/responses \
    LOCALES_DIR=/app/locales \
    SINI_VAR_DIR=/var/lib/sini
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin sini \
    && mkdir -p /var/lib/sini && chown sini /var/lib/sini
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder --chown=sini /app /app
WORKDIR /app
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001
# Webhook mode listens on 8443 (polling needs no port), /metrics /healthz /readyz on 9102;
# `helpline staff` on 8080, `helpline nlu-server` on 5005 (see deploy/).
EXPOSE 8443 9102 8080 5005
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
  CMD ["helpline", "health"]
CMD ["helpline", "bot"]
