# The production image: the same Makefile targets as a laptop, on a venv at /opt/venv.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends make fonts-thai-tlwg libharfbuzz-subset0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml requirements.lock ./
COPY service ./service
COPY workers ./workers
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY alembic.ini Makefile Procfile ./
RUN make install VENV=/opt/venv LOCK=requirements.lock PYTHON=python3.11
ENV VENV=/opt/venv TIDTAM_ENV=production HOST=0.0.0.0 PORT=8000
RUN useradd --system --home /app tidtam && mkdir -p /app/instance && chown tidtam /app/instance
USER tidtam
EXPOSE 8000
CMD ["make", "web"]
