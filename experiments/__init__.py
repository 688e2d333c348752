"""Experiments: CTR tracking, statistics valid under peeking, winners, element effects, preference tags.
"""
