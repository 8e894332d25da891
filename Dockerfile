# The image of every service in docker-compose.yml: the project with its pinned dependencies.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir -c constraints.txt -e '.[dev]' \
    && for requirements in integrations/*/requirements.txt; do \
         pip install --no-cache-dir -c constraints.txt -r "$requirements"; done
ENV DAGSTER_HOME=/opt/dagster/home
RUN mkdir -p "$DAGSTER_HOME" && cp dagster.yaml "$DAGSTER_HOME/dagster.yaml"
