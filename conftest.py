pytest_plugins = ["aic_common.testing.fixtures"]
