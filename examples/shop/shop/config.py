import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default_factory=lambda: os.environ.get("SHOP_DATABASE_URL", "sqlite:///./shop.db")
    )
    page_size: int = 50
    max_page_size: int = 200


settings = Settings()
