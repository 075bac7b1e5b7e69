# The letter pages' fixtures, for the headers of their answers.
from tests.letters.conftest import letter_page, receipt_status_link  # noqa: F401
