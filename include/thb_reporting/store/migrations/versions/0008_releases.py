"""national.releases, release_basis, release_revisions and release_<table>: official releases, frozen;
ledger.explanations: a team's explanation of its submission's warnings; ledger.mail_messages.outcome: explanation,
explanation_refused

Revision ID: 0008_releases
Revises: 0007_finding_letters
Create Date: 2026-12-05 18:59:42.437074

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0008_releases'
down_revision: Union[str, Sequence[str], None] = '0007_finding_letters'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OLD_OUTCOME_COMMENT = ("delivered | duplicate | unknown_sender | no_attachment | archive | encrypted | oversized | "
                       "ambiguous_team | tnef_only; mail no person wrote, never answered: auto_reply | delivery_report | "
                       "read_receipt | mailing_list")
NEW_OUTCOME_COMMENT = ("delivered | duplicate | unknown_sender | no_attachment | archive | encrypted | oversized | "
                       "ambiguous_team | tnef_only | explanation | explanation_refused; mail no person wrote, never "
                       "answered: auto_reply | delivery_report | read_receipt | mailing_list")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('release_basis',
    sa.Column('release_id', sa.Integer(), nullable=False, comment='the release'),
    sa.Column('dataset', sa.Text(), nullable=False, comment='the dataset'),
    sa.Column('team_code', sa.Text(), nullable=False, comment='the team'),
    sa.Column('quarter', sa.Text(), nullable=False, comment='the quarter'),
    sa.Column('submission_id', sa.Integer(), nullable=False, comment='the accepted submission (ledger.submissions) used'),
    sa.PrimaryKeyConstraint('release_id', 'dataset', 'team_code', 'quarter'),
    schema='national',
    comment='The submissions each release was computed from'
    )
    op.create_table('release_coverage',
    sa.Column('release_id', sa.Integer(), nullable=False, comment='the release the row belongs to (releases)'),
    sa.Column('dataset', sa.Text(), nullable=True, comment='the dataset'),
    sa.Column('period', sa.Text(), nullable=True, comment='a quarter (2026Q1) or a year (2026)'),
    sa.Column('coverage', sa.Text(), nullable=True, comment='nation: the whole country; units: the sum of the units listed only'),
    sa.Column('national', sa.Boolean(), nullable=True, comment='a unit of national scope reported every quarter summed'),
    sa.Column('units', sa.Text(), nullable=True, comment="the reporting units with an accepted submission, ';'-separated"),
    sa.Column('quarters', sa.Text(), nullable=True, comment='the quarters of the period with an accepted submission'),
    sa.Column('population', sa.BigInteger(), nullable=True, comment="the population covered (the nation's when national)"),
    sa.Column('nation_population', sa.BigInteger(), nullable=True, comment="the nation's population (census 2022)"),
    sa.Column('population_share', sa.Float(), nullable=True, comment='population / nation_population'),
    sa.Column('description_sr', sa.Text(), nullable=True, comment='what the figures cover, in Serbian'),
    sa.Column('description_en', sa.Text(), nullable=True, comment='what the figures cover, in English'),
    sa.Column('not_in_file', sa.Text(), nullable=True, comment="columns that files made from an earlier template lacked, stored as not stated: 'column: persons; …' (1 to the suppression threshold shown as a range)"),
    schema='national',
    comment='What the national figures of each dataset and period cover: the nation (the Centre reported) or a set of local teams and their population, as each release froze it'
    )
    op.create_index('release_coverage_release', 'release_coverage', ['release_id'], unique=False, schema='national')
    op.create_table('release_export_crim_thb',
    sa.Column('release_id', sa.Integer(), nullable=False, comment='the release the row belongs to (releases)'),
    sa.Column('geo', sa.Text(), nullable=True, comment='RS where the figures cover the nation (coverage nation), else RS_PART: a sum of the units in coverage_units, not the country'),
    sa.Column('time', sa.Text(), nullable=True, comment='year'),
    sa.Column('leg_stat', sa.Text(), nullable=True, comment='IDENT identified | PRESUM presumed victims'),
    sa.Column('sex', sa.Text(), nullable=True, comment='F | M | UNK'),
    sa.Column('citizen', sa.Text(), nullable=True, comment='NAT reporting country | EU27_2020_FOR other EU | NEU27_2020_FOR non-EU'),
    sa.Column('expl', sa.Text(), nullable=True, comment='SEX sexual | LAB labour | OTH other forms (reference/eurostat.csv)'),
    sa.Column('unit', sa.Text(), nullable=True, comment='NR: number of persons'),
    sa.Column('value', sa.BigInteger(), nullable=True, comment='victims, counted once nationally; once per form group; empty where suppressed'),
    sa.Column('suppressed', sa.Boolean(), nullable=True, comment='true: a count from 1 to the threshold'),
    sa.Column('coverage', sa.Text(), nullable=True, comment="nation: a unit of national scope (the Centre) reported the dataset for every quarter summed; units: the sum of the units in coverage_units only, not the country's figure; empty for the calendar's rates"),
    sa.Column('coverage_units', sa.Text(), nullable=True, comment="the reporting units whose accepted submissions the figure sums, ';'-separated"),
    sa.Column('coverage_population', sa.BigInteger(), nullable=True, comment="the population covered: the nation's when coverage is nation, else that of the local units' municipalities (census 2022)"),
    schema='national',
    comment='Victims per year shaped like Eurostat crim_thb, small counts suppressed, as each release froze it'
    )
    op.create_index('release_export_crim_thb_release', 'release_export_crim_thb', ['release_id'], unique=False, schema='national')
    op.create_table('release_indicators',
    sa.Column('release_id', sa.Integer(), nullable=False, comment='the release the row belongs to (releases)'),
    sa.Column('indicator', sa.Text(), nullable=True, comment='see national.indicator_catalogue'),
    sa.Column('level', sa.Text(), nullable=True, comment='team | district | nation'),
    sa.Column('area_code', sa.Text(), nullable=True, comment='team (municipality) code, district code, or RS'),
    sa.Column('period', sa.Text(), nullable=True, comment='a quarter (2026Q1) or a year (2026)'),
    sa.Column('breakdown', sa.Text(), nullable=True, comment='what category is: total, sex, age_group, ...'),
    sa.Column('category', sa.Text(), nullable=True, comment="a code of the breakdown's code list, or total"),
    sa.Column('value', sa.Float(), nullable=True, comment="count, sum or share (see the catalogue's unit)"),
    sa.Column('coverage', sa.Text(), nullable=True, comment="nation: a unit of national scope (the Centre) reported the dataset for every quarter summed; units: the sum of the units in coverage_units only, not the country's figure; empty for the calendar's rates"),
    sa.Column('coverage_units', sa.Text(), nullable=True, comment="the reporting units whose accepted submissions the figure sums, ';'-separated"),
    sa.Column('coverage_population', sa.BigInteger(), nullable=True, comment="the population covered: the nation's when coverage is nation, else that of the local units' municipalities (census 2022)"),
    schema='national',
    comment='National indicators per team, district and nation, per quarter and year (exact counts), as each release froze it'
    )
    op.create_index('release_indicators_release', 'release_indicators', ['release_id'], unique=False, schema='national')
    op.create_table('release_public_indicators',
    sa.Column('release_id', sa.Integer(), nullable=False, comment='the release the row belongs to (releases)'),
    sa.Column('indicator', sa.Text(), nullable=True, comment='see national.indicator_catalogue'),
    sa.Column('level', sa.Text(), nullable=True, comment='team | district | nation'),
    sa.Column('area_code', sa.Text(), nullable=True, comment='team (municipality) code, district code, or RS'),
    sa.Column('period', sa.Text(), nullable=True, comment='a quarter (2026Q1) or a year (2026)'),
    sa.Column('breakdown', sa.Text(), nullable=True, comment='what category is: total, sex, age_group, ...'),
    sa.Column('category', sa.Text(), nullable=True, comment="a code of the breakdown's code list, or total"),
    sa.Column('value', sa.Float(), nullable=True, comment='as in national.indicators; empty where suppressed'),
    sa.Column('suppressed', sa.Boolean(), nullable=True, comment='true: a small count, or one that would reveal one'),
    sa.Column('coverage', sa.Text(), nullable=True, comment="nation: a unit of national scope (the Centre) reported the dataset for every quarter summed; units: the sum of the units in coverage_units only, not the country's figure; empty for the calendar's rates"),
    sa.Column('coverage_units', sa.Text(), nullable=True, comment="the reporting units whose accepted submissions the figure sums, ';'-separated"),
    sa.Column('coverage_population', sa.BigInteger(), nullable=True, comment="the population covered: the nation's when coverage is nation, else that of the local units' municipalities (census 2022)"),
    schema='national',
    comment='The indicators for the public: counts of persons and cases from 1 to the threshold suppressed, with secondary suppression (thb_reporting.figures.disclosure), as each release froze it'
    )
    op.create_index('release_public_indicators_release', 'release_public_indicators', ['release_id'], unique=False, schema='national')
    op.create_table('release_revisions',
    sa.Column('release_id', sa.Integer(), nullable=False, comment='the release that revises'),
    sa.Column('previous_release_id', sa.Integer(), nullable=False, comment='the release whose figure it revises'),
    sa.Column('indicator', sa.Text(), nullable=False, comment='see national.indicator_catalogue'),
    sa.Column('level', sa.Text(), nullable=False, comment='team | district | nation'),
    sa.Column('area_code', sa.Text(), nullable=False, comment='team (municipality) code, district code, or RS'),
    sa.Column('period', sa.Text(), nullable=False, comment='a quarter (2026Q1) or a year (2026)'),
    sa.Column('breakdown', sa.Text(), nullable=False, comment='what category is: total, sex, age_group, ...'),
    sa.Column('category', sa.Text(), nullable=False, comment="a code of the breakdown's code list, or total"),
    sa.Column('previous_value', sa.Float(), nullable=True, comment='the value released before; empty where it was suppressed or absent'),
    sa.Column('value', sa.Float(), nullable=True, comment='the value of this release; empty where suppressed or absent'),
    sa.Column('previous_suppressed', sa.Boolean(), nullable=True, comment='the earlier release suppressed it'),
    sa.Column('suppressed', sa.Boolean(), nullable=True, comment='this release suppresses it'),
    sa.Column('reason', sa.Text(), nullable=False, comment='the submissions added, replaced or withdrawn behind it'),
    schema='national',
    comment="Every public figure a release changed against the period's previous release, and why"
    )
    op.create_index('release_revisions_release', 'release_revisions', ['release_id'], unique=False, schema='national')
    op.create_table('release_sdg_16_2_2',
    sa.Column('release_id', sa.Integer(), nullable=False, comment='the release the row belongs to (releases)'),
    sa.Column('level', sa.Text(), nullable=True, comment='team (its municipality) | nation'),
    sa.Column('area_code', sa.Text(), nullable=True, comment="municipality code; RS for the nation (coverage nation), RS_PART for a sum of local teams that is not the nation's"),
    sa.Column('year', sa.Text(), nullable=True, comment='year'),
    sa.Column('breakdown', sa.Text(), nullable=True, comment='total | sex | age_group | exploitation'),
    sa.Column('category', sa.Text(), nullable=True, comment='a code of the breakdown, or total'),
    sa.Column('victims', sa.BigInteger(), nullable=True, comment='victims (identified and presumed); empty where suppressed'),
    sa.Column('population', sa.BigInteger(), nullable=True, comment="reference population (reference/population.csv): the municipality's, the nation's, or for RS_PART the covered one"),
    sa.Column('rate_per_100000', sa.Float(), nullable=True, comment='victims per 100,000 population; empty where suppressed'),
    sa.Column('suppressed', sa.Boolean(), nullable=True, comment='true where national.public_indicators suppresses the count'),
    sa.Column('coverage', sa.Text(), nullable=True, comment="nation: a unit of national scope (the Centre) reported the dataset for every quarter summed; units: the sum of the units in coverage_units only, not the country's figure; empty for the calendar's rates"),
    sa.Column('coverage_units', sa.Text(), nullable=True, comment="the reporting units whose accepted submissions the figure sums, ';'-separated"),
    sa.Column('coverage_population', sa.BigInteger(), nullable=True, comment="the population covered: the nation's when coverage is nation, else that of the local units' municipalities (census 2022)"),
    schema='national',
    comment='SDG indicator 16.2.2: victims of trafficking per 100,000 population, as each release froze it'
    )
    op.create_index('release_sdg_16_2_2_release', 'release_sdg_16_2_2', ['release_id'], unique=False, schema='national')
    op.create_table('releases',
    sa.Column('release_id', sa.Integer(), autoincrement=True, nullable=False, comment="the release's number"),
    sa.Column('period', sa.Text(), nullable=False, comment='a quarter (2026Q3) or a year (2026)'),
    sa.Column('status', sa.Text(), nullable=False, comment='provisional | final'),
    sa.Column('state', sa.Text(), nullable=False, comment='candidate | released | rejected | lapsed'),
    sa.Column('prepared_at', sa.DateTime(timezone=True), nullable=False, comment='when the candidate was computed'),
    sa.Column('prepared_by', sa.Text(), nullable=False, comment='who asked for it: the deadline (schedule) or a person'),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True, comment='when it was approved or rejected'),
    sa.Column('decided_by', sa.Text(), nullable=True, comment='the Airflow user who approved or rejected it'),
    sa.Column('note', sa.Text(), nullable=True, comment="the approver's note; for a rejection, the reason"),
    sa.Column('previous_release_id', sa.Integer(), nullable=True, comment="the period's release before it, that this one revises"),
    sa.Column('candidate_report', sa.Text(), nullable=True, comment='the full candidate report (a file under <data_root>/releases/)'),
    sa.PrimaryKeyConstraint('release_id'),
    schema='national',
    comment='Releases of the national figures: each candidate, approved or not, and its decision'
    )
    op.create_index('releases_period', 'releases', ['period'], unique=False, schema='national')
    op.create_table('explanations',
    sa.Column('explanation_id', sa.Integer(), autoincrement=True, nullable=False, comment="the explanation's number"),
    sa.Column('submission_id', sa.Integer(), nullable=False, comment='the submission whose warnings it explains'),
    sa.Column('text', sa.Text(), nullable=False, comment="the team's words, screened for personal identifiers"),
    sa.Column('source', sa.Text(), nullable=False, comment='mail (a reply to the validation e-mail) | cli (a data engineer)'),
    sa.Column('recorded_by', sa.Text(), nullable=True, comment="the reply's mail reference, or the data engineer's name"),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False, comment='when it was recorded'),
    sa.ForeignKeyConstraint(['submission_id'], ['ledger.submissions.submission_id'], ),
    sa.PrimaryKeyConstraint('explanation_id'),
    schema='ledger',
    comment="Teams' explanations of their submissions' warnings"
    )
    if op.get_bind().dialect.name != "sqlite":  # SQLite keeps no comments
        op.alter_column('mail_messages', 'outcome', existing_type=sa.Text(), existing_nullable=False,
                        comment=NEW_OUTCOME_COMMENT, existing_comment=OLD_OUTCOME_COMMENT, schema='ledger')


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column('mail_messages', 'outcome', existing_type=sa.Text(), existing_nullable=False,
                        comment=OLD_OUTCOME_COMMENT, existing_comment=NEW_OUTCOME_COMMENT, schema='ledger')
    op.drop_table('explanations', schema='ledger')
    op.drop_index('releases_period', table_name='releases', schema='national')
    op.drop_table('releases', schema='national')
    op.drop_index('release_sdg_16_2_2_release', table_name='release_sdg_16_2_2', schema='national')
    op.drop_table('release_sdg_16_2_2', schema='national')
    op.drop_index('release_revisions_release', table_name='release_revisions', schema='national')
    op.drop_table('release_revisions', schema='national')
    op.drop_index('release_public_indicators_release', table_name='release_public_indicators', schema='national')
    op.drop_table('release_public_indicators', schema='national')
    op.drop_index('release_indicators_release', table_name='release_indicators', schema='national')
    op.drop_table('release_indicators', schema='national')
    op.drop_index('release_export_crim_thb_release', table_name='release_export_crim_thb', schema='national')
    op.drop_table('release_export_crim_thb', schema='national')
    op.drop_index('release_coverage_release', table_name='release_coverage', schema='national')
    op.drop_table('release_coverage', schema='national')
    op.drop_table('release_basis', schema='national')
