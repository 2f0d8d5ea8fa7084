"""Kibana out of the box: saved objects for the story index (`objects`, pure)
and the saved objects import API (`client`)."""
