"""ledger.findings.column_letter: the column's letter in the team's file, kept when the finding is made;
ledger.mail_messages.kept_in and replied_at: the mailbox records, messaging replies

Revision ID: 0007_finding_letters
Revises: 0006_template_version
Create Date: 2026-12-05 17:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0007_finding_letters'
down_revision: Union[str, Sequence[str], None] = '0006_template_version'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('mail_messages', sa.Column('kept_in', sa.Text(), nullable=True, comment='the folder of the mailbox the e-mail was moved to (THB/processed, THB/quarantine, THB/automatic)'), schema='ledger')
    op.add_column('mail_messages', sa.Column('replied_at', sa.DateTime(timezone=True), nullable=True, comment='when its reply (or the coordinator\'s notice) was queued; empty when none is owed or not yet'), schema='ledger')
    # e-mails handled before: their replies were queued with them
    sqlite = op.get_bind().dialect.name == "sqlite"  # (one schema there: the ledger's tables are in main)
    op.execute(f"UPDATE {'' if sqlite else 'ledger.'}mail_messages SET replied_at = handled_at")
    op.add_column('findings', sa.Column('column_letter', sa.Text(), nullable=True, comment="the column's letter in the team's own file (A, B …; 'C, F' for a name twice), as it was read: messages name it without reading the file again"), schema='ledger')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('findings', 'column_letter', schema='ledger')
    op.drop_column('mail_messages', 'replied_at', schema='ledger')
    op.drop_column('mail_messages', 'kept_in', schema='ledger')
