"""The Step Functions console inside Airflow: an "ASL execution" view on every DAG run of a compiled
state machine (the flow coloured by what happened, each state's data, the event history), served by
the plugin's FastAPI app (:mod:`.routes`), and the diagram in the DAG's own docs (:mod:`.docs`).

Only the API server imports :mod:`.routes`; :mod:`.docs` runs at DAG parse time and stays light.
"""

#: where Airflow's API server mounts the plugin's app (``asl_airflow.airflow.callback_api``)
URL_PREFIX = "/asl-airflow"
