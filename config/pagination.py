from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """`limit` and `offset` as DRF's, but a value that is not a whole number is a 400, not ignored."""

    max_limit = 500

    def get_limit(self, request) -> int | None:
        self._check(request, self.limit_query_param, minimum=1)
        return super().get_limit(request)

    def get_offset(self, request) -> int:
        self._check(request, self.offset_query_param, minimum=0)
        return super().get_offset(request)

    @staticmethod
    def _check(request, name: str, *, minimum: int) -> None:
        values = request.query_params.getlist(name)
        for value in values:
            if not value.isdigit() or int(value) < minimum or len(value) > 18:
                raise ValidationError({name: [f"'{value}' is not a whole number of at least {minimum}."]})
        if len(values) > 1:
            raise ValidationError({name: ["Give it once."]})
