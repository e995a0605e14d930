"""Competitive-programming collector: APPS, CodeContests, TACO and MBPP-style rows -> validated Problems."""

from curation.competitive.collect import STAGE, ConvertShard, collect_competitive
from curation.competitive.config import SCHEMAS, CompetitiveConfig
from curation.competitive.convert import build_problem
from curation.competitive.loaders import load_tasks

__all__ = ["SCHEMAS", "STAGE", "CompetitiveConfig", "ConvertShard", "build_problem", "collect_competitive", "load_tasks"]
