"""Training data: real recordings (tiled, augmented), synthetic recordings, tf.data windows."""
