"""What a release carries besides the marts' rows: descriptions, the quality schema, the data
dictionary, weekly digests and feeds. Called from the publish step (orchestration/warehouse/publish.py)."""
