"""``python -m aic_files.migrate``: bring the files database to the latest schema and declare the
service's queues on the broker (a deployment's job, run before the service starts)."""

from aic_files.app import create_app

if __name__ == "__main__":
    create_app().state.runtime.prepare()
