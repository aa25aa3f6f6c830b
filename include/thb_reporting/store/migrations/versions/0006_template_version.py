"""ledger.submissions: the template version a file followed and the later columns it lacked;
national.coverage.not_in_file; ledger.mail_messages.outcome: mail no person wrote, winmail.dat

Revision ID: 0006_template_version
Revises: 0005_coverage
Create Date: 2026-12-05 16:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0006_template_version'
down_revision: Union[str, Sequence[str], None] = '0005_coverage'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_OUTCOME_COMMENT = ("delivered | duplicate | unknown_sender | no_attachment | archive | encrypted | oversized | "
                       "ambiguous_team")
NEW_OUTCOME_COMMENT = ("delivered | duplicate | unknown_sender | no_attachment | archive | encrypted | oversized | "
                       "ambiguous_team | tnef_only; mail no person wrote, never answered: auto_reply | delivery_report | "
                       "read_receipt | mailing_list")


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column('submissions', sa.Column('template_version', sa.Integer(), nullable=True, comment='the version of the team template the file was made from (its columns, or its declared version); below contract_version when the team used an earlier template'), schema='ledger')
    op.add_column('submissions', sa.Column('columns_not_in_file', sa.Text(), nullable=True, comment="the optional columns of a later template that the file lacks, ','-separated: stored as not stated"), schema='ledger')
    if op.get_bind().dialect.name != "sqlite":  # SQLite keeps no comments
        op.alter_column('mail_messages', 'outcome', existing_type=sa.Text(), existing_nullable=False, comment=NEW_OUTCOME_COMMENT, existing_comment=OLD_OUTCOME_COMMENT, schema='ledger')
    op.add_column('coverage', sa.Column('not_in_file', sa.Text(), nullable=True, comment="columns that files made from an earlier template lacked, stored as not stated: 'column: persons; …' (1 to the suppression threshold shown as a range)"), schema='national')


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column('coverage', 'not_in_file', schema='national')
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column('mail_messages', 'outcome', existing_type=sa.Text(), existing_nullable=False, comment=OLD_OUTCOME_COMMENT, existing_comment=NEW_OUTCOME_COMMENT, schema='ledger')
    op.drop_column('submissions', 'columns_not_in_file', schema='ledger')
    op.drop_column('submissions', 'template_version', schema='ledger')
