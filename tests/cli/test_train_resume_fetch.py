"""`stylegan2 train --resume URL|NAME`: parsing downloads nothing; every option is checked first (qa-auditor M3)."""

import pytest
from click.testing import CliRunner

from stylegan2.cli import main


@pytest.mark.parametrize("resume", ["https://example.invalid/net.pkl", "ffhq256", "auto:ffhq256"])
def test_a_bad_option_after_a_resume_url_or_name_is_reported_before_any_download(resume, tmp_path, monkeypatch):
    monkeypatch.setattr("stylegan2.utils.download.urllib.request.urlopen", lambda *a, **k: pytest.fail("downloaded"))
    result = CliRunner().invoke(main, ["train", "--data", "builtin:shapes", "--resume", resume, "--batch", "0",
                                       "--outdir", str(tmp_path / "runs"), "--dry-run"])
    assert result.exit_code == 2 and "Invalid value for '--batch': 0 is not in the range x>=1" in result.output, result.output
