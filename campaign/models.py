"""Every domain's models, imported so that each table is registered with the metadata.

Alembic's autogenerate and the tests' migrations see only the tables imported by then;
`create_app` imports this module so none depends on which blueprint happens to load it.
"""

from campaign.auth import models as auth  # noqa: F401
from campaign.donations import models as donations  # noqa: F401
from campaign.health import models as health  # noqa: F401
from campaign.letters import models as letters  # noqa: F401
from campaign.pages import models as pages  # noqa: F401
from campaign.supporters import models as supporters  # noqa: F401
from campaign.targets import models as targets  # noqa: F401
