"""Data sources and the tf.data pipelines several lectures share, one module per source
or concern (the registry of files, MNIST-format sets, TFRecords, pictures, text)."""
