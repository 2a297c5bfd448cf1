# lägesbild – Telegram bot for EST safety coordination.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_URL=sqlite:////data/lagesbild.db

RUN useradd --create-home --uid 10001 lagesbild \
    && mkdir /data && chown lagesbild:lagesbild /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY est ./est
COPY messages ./messages
COPY storage ./storage
RUN pip install .

USER lagesbild
VOLUME ["/data"]
CMD ["lagesbild", "run"]
