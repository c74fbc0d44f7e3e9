-- Table labels in the one spelling writes store (shared/dining_tables.py: NFKC, without the
-- characters that show as nothing, single spaces), so a label saved before, say with the
-- invisible variation selector after "☀", blocks its look-alike. Of labels that would come out
-- the same, the oldest table's is respelled; the others, and any that would clash with a label
-- already so spelled, come out empty or grow too long, are left for the restaurant to rename.
with seen as (
    select id, label, created_at,
           btrim(regexp_replace(
               regexp_replace(normalize(label, NFKC),
                   '[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8]',
                   '', 'g'),
               '\s+', ' ', 'g')) as spelled
      from dining_tables
), first_of_each as (
    select seen.*, row_number() over (partition by lower(spelled)
                                      order by (label = spelled) desc, created_at, id) as n
      from seen
)
update dining_tables t set label = f.spelled, updated_at = now()
  from first_of_each f
 where t.id = f.id and f.label <> f.spelled and f.n = 1
   and length(f.spelled) between 1 and 40
   and not exists (select 1 from dining_tables o
                    where o.id <> t.id and lower(o.label) = lower(f.spelled));
