"""Every registered role implementation passes the conformance checks (tests/conformance.py)."""

import pytest

from engine.assistants import ASSISTANTS
from engine.embedders import EMBEDDERS
from engine.judges import JUDGES
from engine.registry import missing_extra
from engine.users import USERS
from tests import conformance


def _available(registry) -> list:
    return [pytest.param(e.name, marks=pytest.mark.skipif(bool(missing_extra(e.extra)),
                                                          reason=str(missing_extra(e.extra))))
            for e in registry]


@pytest.mark.parametrize("kind", _available(USERS))
def test_user_agent_conforms(kind):
    conformance.check_user(kind)


@pytest.mark.parametrize("kind", _available(JUDGES))
def test_judge_conforms(kind):
    conformance.check_judge(kind)


@pytest.mark.parametrize("name", _available(ASSISTANTS))
def test_assistant_conforms(name, tmp_path):
    conformance.check_assistant(name, tmp_path)


@pytest.mark.parametrize("name", _available(EMBEDDERS))
def test_embedder_conforms(name):
    conformance.check_embedder(name)
