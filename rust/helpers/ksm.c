// SPDX-License-Identifier: GPL-2.0

/* For the KSM write-fault reuse decision, mm/ksm_wp_reuse.rs, its only user. */

#include <linux/ksm.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/page_ref.h>

#ifdef CONFIG_KSM_WP_REUSE

__rust_helper int rust_helper_folio_ref_count(const struct folio *folio)
{
	return folio_ref_count(folio);
}

__rust_helper int rust_helper_folio_mapcount(const struct folio *folio)
{
	return folio_mapcount(folio);
}

__rust_helper struct ksm_stable_node *rust_helper_folio_stable_node(const struct folio *folio)
{
	return folio_stable_node(folio);
}

__rust_helper bool rust_helper_mm_match_folio_memcg(struct mm_struct *mm,
						    struct folio *folio)
{
	return mm_match_folio_memcg(mm, folio);
}
#endif /* CONFIG_KSM_WP_REUSE */
