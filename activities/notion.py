"""The activities of notion.create_page and notion.query_database."""

from temporalio import activity

from activities.credentials import CredentialStore
from activities.support import ActivityRegistry, connector_errors, heartbeating, validate_params
from connectors.netguard import GuardedTransport
from connectors.notion import NotionClient, page_summary
from core.config import Settings
from workflows.contract import NodeInput, NodeResult
from workflows.nodes.notion import (
    NotionCreatePageParams,
    NotionQueryDatabaseParams,
    paragraphs_of,
)


class NotionActivities:
    """Notion nodes sharing one guarded connection pool; each call uses its node's token."""

    def __init__(self, settings: Settings, credentials: CredentialStore) -> None:
        self._credentials = credentials
        self._notion = NotionClient(
            base_url=settings.notion_api_url,
            version=settings.notion_version,
            transport=GuardedTransport(settings.http_allowed_hosts),
            timeout_seconds=settings.connector_timeout_seconds,
        )

    def activities(self) -> ActivityRegistry:
        """Node type → activity."""
        return {
            "notion.create_page": self.create_page,
            "notion.query_database": self.query_database,
        }

    async def aclose(self) -> None:
        """Release connections."""
        await self._notion.aclose()

    @activity.defn(name="notion.create_page")
    async def create_page(self, node: NodeInput) -> NodeResult:
        """Create the page; output `{id, url, created_time, last_edited_time, properties}`.

        Notion takes no idempotency key, so a retry after a lost answer can create a
        second page.
        """
        params = validate_params(NotionCreatePageParams, node.params)
        token = await self._token(node)
        async with heartbeating():
            with connector_errors():
                page = await self._notion.create_page(
                    token,
                    database_id=params.database_id,
                    page_id=params.page_id,
                    title=params.title,
                    properties=params.properties,
                    paragraphs=paragraphs_of(params.content or ""),
                    blocks=params.blocks,
                    icon=params.icon,
                    cover=params.cover,
                )
        output = page_summary(page, simplify=params.simplify)
        return NodeResult(output=output, attempt=activity.info().attempt)

    @activity.defn(name="notion.query_database")
    async def query_database(self, node: NodeInput) -> NodeResult:
        """Query the database; output `{results, count, has_more, next_cursor}`."""
        params = validate_params(NotionQueryDatabaseParams, node.params)
        token = await self._token(node)
        async with heartbeating():
            with connector_errors():
                found = await self._notion.query_database(
                    token,
                    params.database_id,
                    filter=params.filter,
                    sorts=params.sorts,
                    limit=params.limit,
                    page_size=params.page_size,
                    start_cursor=params.start_cursor,
                )
        results = [page_summary(page, simplify=params.simplify) for page in found.pages]
        output = {
            "results": results,
            "count": len(results),
            "has_more": found.has_more,
            "next_cursor": found.next_cursor,
        }
        return NodeResult(output=output, attempt=activity.info().attempt)

    async def _token(self, node: NodeInput) -> str:
        """The integration token of the node's `notion` credential."""
        resolved = await self._credentials.resolve_for(node)
        token: str = resolved.data["token"]
        return token
