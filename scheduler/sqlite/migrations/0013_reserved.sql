-- Reserved: this number belongs to another branch's migration; this placeholder is dropped when
-- the branches are merged.
SELECT 1;
