"""The batch CLI's account: rows read = scored + rejected, or the run fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadscore.core.csvfile import LineCounts
from leadscore.scoring.batch import check_accounting
from leadscore.scoring.batch_input import BatchAccountingError, InputRead


def test_rows_read_must_equal_scored_plus_rejected():
    read = InputRead(Path("leads.csv"), LineCounts(lines=3001, header=1, records=2999, bad=1))
    check_accounting(read, scored=2998, rejected=2)  # 2 rejected: 1 bad line, 1 bad value
    with pytest.raises(BatchAccountingError) as error:
        check_accounting(read, scored=2170, rejected=1)
    assert str(error.value) == (
        "leads.csv: read 3,000 rows but wrote 2,170 scored + 1 rejected = 2,171; 829 rows "
        "would be lost, so nothing was written (please report this as a bug)"
    )
