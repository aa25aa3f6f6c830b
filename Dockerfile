# The Airflow image for docker-compose.yaml: the official image plus this project's pinned requirements.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r /requirements.txt
# The package itself is mounted at /opt/airflow/include (see docker-compose.yaml) and found through
# PYTHONPATH, so code changes need no rebuild.
ENV PYTHONPATH=/opt/airflow/include
