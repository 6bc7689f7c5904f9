import pytest

pytestmark = pytest.mark.infra


def test_synth(synth):
    print(synth.outdir)
