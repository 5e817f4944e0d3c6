"""tandem_lab's command-line programs: `python3 -m tandem_lab.cli.<name>` with tools/ on PYTHONPATH."""
