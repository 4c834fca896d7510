"""Tests of the Lambda handler sources and the OpenSearch index templates."""
