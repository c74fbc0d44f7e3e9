"""Theme tokens: validation (hex, contrast, URLs, unknown keys), presets, admin editing."""

from __future__ import annotations

import json

import pytest

from shared.config import get_settings
from shared.theming import PRESETS, contrast_ratio
from tests.storefront_helpers import (  # noqa: F401 (fixtures)
    api_fixture,
    customer_api,
    error_paths,
    ok,
    owner_api,
    rejecting_api_fixture,
)

ASSETS = "http://127.0.0.1:10000/devstoreaccount1/assets"


def theme(**changes: dict) -> dict:
    """The classic preset with nested changes: theme(colors={"text": "#777"})."""
    tokens = json.loads(json.dumps(PRESETS["classic"]))
    for section, values in changes.items():
        tokens[section] = {**tokens.get(section, {}), **values}
    return tokens


def test_contrast_ratio_matches_wcag() -> None:
    assert round(contrast_ratio("#000000", "#ffffff"), 2) == 21.0
    assert round(contrast_ratio("#777777", "#ffffff"), 3) == 4.478
    assert contrast_ratio("#ffffff", "#ffffff") == 1.0


def test_failing_contrast_names_the_pair_and_the_ratio(api) -> None:
    response = api.put("/v1/admin/theme", json=theme(colors={"text": "#777777"}))
    assert response.status_code == 422
    errors = response.json()["errors"]
    # Floored, so a near miss never reads as "4.5:1, needs 4.5:1".
    assert errors == [
        {"path": "colors.text",
         "message": "colors.text on colors.background is 4.47:1, needs 4.5:1"},
        {"path": "colors.text", "message": "colors.text on colors.surface is 4.28:1, needs 4.5:1"},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("colors", "message"),
    [
        ({"on_primary": "#ffffff", "primary": "#f87171"},
         "colors.on_primary on colors.primary is 2.76:1, needs 4.5:1"),
        ({"secondary": "#fde68a"}, "colors.secondary on colors.background is 1.24:1, needs 3:1"),
    ],
)  # fmt: skip
def test_every_pair_the_storefront_uses_is_checked(rejecting_api, colors, message) -> None:
    response = rejecting_api.put("/v1/admin/theme", json=theme(colors=colors))
    assert [e["message"] for e in response.json()["errors"]] == [message]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"colors": {"primary": "red"}}, "colors.primary"),
        ({"colors": {"primary": "#12345"}}, "colors.primary"),
        ({"colors": {"primary": "#ggg"}}, "colors.primary"),
        ({"colors": {"accent": "#000000"}}, "colors.accent"),
        ({"shape": {"radius_large": 65}}, "shape.radius_large"),
        ({"shape": {"radius_large": 8.5}}, "shape.radius_large"),
        ({"typography": {"heading": {"family": "x; }"}}}, "typography.heading.family"),
        ({"typography": {"heading": {"family": "Inter", "weight": 700}}},
         "typography.heading.weight"),
        ({"assets": {"logo": "https://evil.example/logo.png"}}, "assets.logo"),
        ({"assets": {"logo": "//evil.example/logo.png"}}, "assets.logo"),
        # Browsers read three or more slashes as "//" too: another host.
        ({"assets": {"logo": "///evil.example/logo.png"}}, "assets.logo"),
        ({"assets": {"logo": "////evil.example/logo.png"}}, "assets.logo"),
        ({"assets": {"logo": ASSETS.replace("127.0.0.1", "127.0.0.1@evil.example")}},
         "assets.logo"),
        ({"assets": {"logo": "javascript:alert(1)"}}, "assets.logo"),
        ({"assets": {"logo": f"{ASSETS}-evil/logo.png"}}, "assets.logo"),
        ({"assets": {"hero": "../secrets/hero.png"}}, "assets.hero"),
        ({"assets": {"hero": "%2e%2e/hero.png"}}, "assets.hero"),
        ({"assets": {"hero": 'hero.png") ; x("'}}, "assets.hero"),
        ({"assets": {"favicon": "x.png"}}, "assets.favicon"),
        ({"assets": {"logo": "logo\ud800.png"}}, "assets.logo"),
        ({"assets": {"logo": "logo\u0000.png"}}, "assets.logo"),
        ({"typography": {"body": {"family": "Inter", "urls": ["https://fonts.example/i.woff2"]}}},
         "typography.body.urls[0]"),
    ],
)  # fmt: skip
def test_token_rules(rejecting_api, changes, path) -> None:
    assert path in error_paths(rejecting_api.put("/v1/admin/theme", json=theme(**changes)))


def test_the_assets_host_in_any_letter_case_is_the_assets_host(api) -> None:
    # Scheme and host are case-insensitive: the same URL is accepted, and stored as the base.
    shouting = ASSETS.replace("http://", "HTTP://") + "/t/logo.webp"
    saved = ok(api.put("/v1/admin/theme", json=theme(assets={"logo": shouting})))
    assert saved["assets"]["logo"] == f"{ASSETS}/t/logo.webp"


def test_unknown_top_level_keys_are_rejected(api) -> None:
    assert error_paths(api.put("/v1/admin/theme", json={**theme(), "preset": "classic"})) == [
        "preset"
    ]


def test_every_preset_is_valid_and_can_be_applied(api) -> None:
    presets = ok(api.get("/v1/admin/theme/presets"))
    assert presets["default"] == "classic"
    assert {p["name"] for p in presets["presets"]} == {"classic", "bistro", "night"}
    for preset in presets["presets"]:
        ok(api.put("/v1/admin/theme", json=preset["tokens"]))


def test_a_theme_is_saved_and_served_with_absolute_asset_urls(client, api) -> None:
    customer = customer_api(client, api.tenant)
    # Before any theme is saved the storefront gets the default preset.
    default = ok(customer.get("/v1/store/config"))["theme"]
    assert default["colors"] == PRESETS["classic"]["colors"]

    tokens = theme(
        colors={"primary": "#1D4ED8"},
        assets={"logo": f"{ASSETS}/t/logo.webp", "hero": "t/hero.webp"},
        typography={"heading": {"family": "'Fraunces', serif", "urls": ["/fonts/f.woff2"]}},
    )
    response = api.put("/v1/admin/theme", json=tokens)
    saved = ok(response)
    assert saved["colors"]["primary"] == "#1d4ed8"  # normalised
    assert response.headers["etag"] == '"2"'
    assert ok(api.get("/v1/admin/theme")) == saved

    served = ok(customer.get("/v1/store/config"))["theme"]
    assert served["colors"]["primary"] == "#1d4ed8"
    assert served["assets"] == {"logo": f"{ASSETS}/t/logo.webp", "hero": f"{ASSETS}/t/hero.webp"}
    assert served["typography"]["heading"]["urls"] == [f"{ASSETS}/fonts/f.woff2"]


def test_theme_writes_are_guarded_like_settings(api) -> None:
    ok(api.put("/v1/admin/theme", json=theme(), headers={"If-Match": '"1"'}))
    stale = api.put("/v1/admin/theme", json=theme(), headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    conflict = api.put("/v1/admin/theme", json={**theme(), "expected_version": 1})
    assert (conflict.status_code, conflict.json()["current_version"]) == (409, 2)


def test_a_theme_save_leaves_the_settings_etag_alone_and_the_other_way_round(api) -> None:
    """Settings and theme are different pages, often different people: a save is stale only
    when its own part changed after the ETag was read, and answers the profile's newest
    version."""
    read = api.get("/v1/admin/settings")
    ok(api.put("/v1/admin/theme", json=theme(), headers={"If-Match": '"1"'}))  # now "2"
    hours = {**read.json(), "hours": {"mon": [["12:00", "22:00"]]}}
    saved = api.put("/v1/admin/settings", json=hours, headers={"If-Match": read.headers["etag"]})
    assert (saved.status_code, saved.headers.get("etag")) == (200, '"3"'), saved.text
    # The theme page read at "2" is not stale for the settings saved at "3"...
    ok(api.put("/v1/admin/theme", json=theme(), headers={"If-Match": '"2"'}))
    # ...but a settings page read at "1" is now: the settings changed at "3".
    late = api.put("/v1/admin/settings", json=hours, headers={"If-Match": '"1"'})
    assert (late.status_code, late.json()["current_version"]) == (412, 4)
    # A version never issued yet is no version anyone read.
    ahead = api.put("/v1/admin/settings", json=hours, headers={"If-Match": '"5"'})
    assert ahead.status_code == 412


def test_a_capitalised_assets_base_accepts_its_own_urls(
    api, monkeypatch: pytest.MonkeyPatch
) -> None:
    shouting_base = ASSETS.replace("127.0.0.1", "LocalHost")
    monkeypatch.setenv("ASSETS_BASE_URL", shouting_base)
    get_settings.cache_clear()
    try:
        for written in (f"{shouting_base}/t/logo.webp", shouting_base.lower() + "/t/logo.webp"):
            saved = ok(api.put("/v1/admin/theme", json=theme(assets={"logo": written})))
            assert saved["assets"]["logo"] == f"{shouting_base}/t/logo.webp"
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_a_three_digit_colour_is_saved_as_six_digits(api) -> None:
    """#FFF is saved as #ffffff, the form contrast is computed from."""
    saved = ok(
        api.put("/v1/admin/theme", json=theme(colors={"on_primary": "#FFF", "text": "#111"}))
    )
    assert (saved["colors"]["on_primary"], saved["colors"]["text"]) == ("#ffffff", "#111111")


@pytest.mark.parametrize(
    "url",
    [
        "t/my logo.png",  # a space
        "data:image/png;base64,iVBORw0KGgo=",  # a scheme without a host
        "https:logo.png",
    ],
)
def test_asset_urls_without_a_host_or_with_spaces_are_refused(rejecting_api, url: str) -> None:
    """A space, or a scheme without a host (`data:`, `https:path`), is no asset URL of ours."""
    response = rejecting_api.put("/v1/admin/theme", json=theme(assets={"logo": url}))
    assert error_paths(response) == ["assets.logo"]


def test_an_asset_url_of_exactly_the_limit_is_accepted_and_one_more_refused(api) -> None:
    """2,048 characters is the limit, itself allowed."""
    at_limit = "t/" + "a" * (2048 - len("t/.png")) + ".png"
    assert len(at_limit) == 2048
    saved = ok(api.put("/v1/admin/theme", json=theme(assets={"logo": at_limit})))
    assert saved["assets"]["logo"] == at_limit
    too_long = "t/a" + at_limit[2:]
    assert error_paths(api.put("/v1/admin/theme", json=theme(assets={"logo": too_long}))) == [
        "assets.logo"
    ]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"shape": {"radius_small": -1}}, "shape.radius_small"),
        ({"typography": {"body": {"family": "Inter", "urls": [f"f/{i}.woff2" for i in range(9)]}}},
         "typography.body.urls"),
        ({"typography": {"heading": {"family": "A" * 101}}}, "typography.heading.family"),
    ],
)  # fmt: skip
def test_theme_limits_one_past_the_edge(rejecting_api, changes: dict, path: str) -> None:
    """A radius below 0, a ninth font file, a 101-character family name."""
    response = rejecting_api.put("/v1/admin/theme", json=theme(**changes))
    assert error_paths(response) == [path]
