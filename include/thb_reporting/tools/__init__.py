"""What people run beside the DAGs: the command line (thb), the synthetic submissions generator, the data
dictionary, Airflow runs for the demo and tests, and the DAGs' settings.
May import: every stage."""
