"""kanserve: train, export and serve KAN and MLP MNIST classifiers (console command `kanserve`)."""
