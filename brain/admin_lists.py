"""The admin's change lists of millions of rows: pages whose count never scans the table
(brain.api.pagination's bounded count and planner estimate), and no page hidden by an estimate."""

from django.contrib.admin.views.main import ChangeList
from django.core.paginator import EmptyPage, Page, Paginator
from django.utils.functional import cached_property

from brain.api import pagination

# The deepest page the console offers: past it, a list is narrowed by its filters or its search.
CONSOLE_MAX_PAGES = 1_000


class ConsolePaginator(Paginator):
    """The admin change list's paginator for lists of millions of rows. One query selects the
    keys of the list's first EXACT_COUNT_LIMIT + 1 rows, in its order (it stops there, so its
    cost stays flat however large the table): `count` is their number when they are all, else
    PostgreSQL's estimate (EXPLAIN of the keys alone), never less; the pages within them take
    their keys from it, so one search gives the count and the first pages (a list of one page
    the admin reads whole, without page()). Deeper pages select their keys alone, skipping the
    rows before them in the list's order. A page's rows are then read by their keys, so that what
    the queryset annotates is computed for the page's rows only and the list's filters are not
    searched again.

    The estimate never hides rows: any page up to CONSOLE_MAX_PAGES may be asked for (one with no
    rows is refused as past the last), and a page reads one key past its end, raising `count` to
    the rows it has shown to exist (so the next page is offered), or making it exact on the last
    page. No orphans."""

    @cached_property
    def first_keys(self):
        """The keys of the list's first EXACT_COUNT_LIMIT + 1 rows, in its order."""
        return list(
            self.object_list.values_list("pk", flat=True)[: pagination.EXACT_COUNT_LIMIT + 1]
        )

    @cached_property
    def count(self):
        counted = len(self.first_keys)
        if counted <= pagination.EXACT_COUNT_LIMIT:
            return counted
        return max(counted, pagination.planned_count(self.object_list.order_by().values("pk")))

    @property
    def num_pages(self):
        return min(super().num_pages, CONSOLE_MAX_PAGES)

    def validate_number(self, number):
        """Django's check of a page number, against CONSOLE_MAX_PAGES rather than the number of
        pages the count gives."""
        try:
            return super().validate_number(number)
        except EmptyPage:
            if 1 <= int(number) <= CONSOLE_MAX_PAGES:  # an integer: Django checked that first
                return int(number)
            raise

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        end = bottom + self.per_page + 1  # one key past the page: whether more rows follow
        if end <= len(self.first_keys) or len(self.first_keys) <= pagination.EXACT_COUNT_LIMIT:
            keys = self.first_keys[bottom:end]
        else:
            keys = list(self.object_list.values_list("pk", flat=True)[bottom:end])
        more = len(keys) > self.per_page
        del keys[self.per_page :]
        if not keys and number > 1:
            raise EmptyPage(self.error_messages["no_results"])
        self.count = max(self.count, end) if more else bottom + len(keys)
        return Page(self.object_list.filter(pk__in=keys), number, self)


class ConsoleChangeList(ChangeList):
    """A change list that shows the count its ConsolePaginator has once the page is read: the
    estimate, raised by a page that shows more rows, exact on the last page. (Django's reads the
    count before the page.)"""

    def get_results(self, request):
        super().get_results(request)
        self.result_count = self.paginator.count


class ConsoleListMixin:
    """A ModelAdmin for lists of millions of rows: ConsolePaginator's pages and counts, shown by
    ConsoleChangeList, and no full count of the table."""

    paginator = ConsolePaginator
    show_full_result_count = False

    def get_changelist(self, request, **kwargs):
        return ConsoleChangeList
