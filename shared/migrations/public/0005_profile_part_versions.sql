-- The profile version at which each part last changed: the settings (with the business name)
-- and the theme. A save is stale only when its own part changed after the version the writer
-- read, so a logo finishing in the background (a theme change) or a theme edit never makes a
-- manager's settings ETag stale, and the other way round. A trigger, like the revision's, so
-- a write by a process of the previous release is counted too.
alter table tenants
    add column settings_version integer not null default 0,
    add column theme_version integer not null default 0;

update tenants set settings_version = version, theme_version = version;

create function note_profile_part_versions() returns trigger language plpgsql as $$
begin
    if new.settings is distinct from old.settings
       or new.display_name is distinct from old.display_name then
        new.settings_version := new.version;
    end if;
    if new.theme is distinct from old.theme then
        new.theme_version := new.version;
    end if;
    return new;
end
$$;

create trigger tenants_note_profile_part_versions before update on tenants
    for each row execute function note_profile_part_versions();
