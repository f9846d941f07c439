"""Developer tools over the whole pipeline: topic quality against the expert labels (``python -m topics.evaluate``,
``make eval-topics``) and refitting the topic term weights (``python -m topics.train``, ``make train-topics``)."""
