"""The Airflow side: compiler ASL -> tasks, state operators, retry policy, DAG builders, plugin."""
