# Astro Runtime 3.3 (Airflow 3.3). `astro dev start` builds this; the project's package is
# installed from plugins/ as the asl-airflow provider (entry points), so Airflow lists it and
# loads its plugin without copying files.
FROM astrocrpublic.azurecr.io/runtime:3.3-1

COPY --chown=astro:0 pyproject.toml README.md ./asl-airflow-src/
COPY --chown=astro:0 plugins ./asl-airflow-src/plugins
RUN pip install --no-cache-dir --no-deps ./asl-airflow-src
ENV PYTHONPATH=/usr/local/airflow
