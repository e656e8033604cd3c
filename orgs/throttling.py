"""Per-org API rate limits: a fixed one-minute window counted with an atomic INCR in the shared cache."""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from orgs.auth import ApiClient

logger = logging.getLogger(__name__)


class OrgRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        client = request.user
        if not isinstance(client, ApiClient):
            return True
        limit = client.org.rate_limit_per_minute or settings.HERALD_RATE_LIMIT_PER_MINUTE
        if not limit:
            return True
        now = time.time()
        key = f"herald:rate:{client.org.pk}:{int(now // 60)}"
        try:
            # add() then incr(): both atomic in Redis, so concurrent web processes never lose a count.
            cache.add(key, 0, timeout=120)
            count = cache.incr(key)
        except ValueError:  # the key expired between the two calls
            count = 1
        except Exception:
            # Fail open: with Redis away, refusing every request would add an API outage to a cache one.
            logger.warning("rate limit not counted: the cache is unavailable", exc_info=True)
            return True
        self.retry_after = 60 - now % 60
        return count <= limit

    def wait(self) -> float:
        return self.retry_after
