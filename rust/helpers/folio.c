// SPDX-License-Identifier: GPL-2.0

#include <linux/ksm.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/page_ref.h>

__rust_helper struct folio *rust_helper_folio_alloc(gfp_t gfp, unsigned int order)
{
	return folio_alloc(gfp, order);
}

__rust_helper void rust_helper_folio_get(struct folio *folio)
{
	folio_get(folio);
}

__rust_helper void rust_helper_folio_put(struct folio *folio)
{
	folio_put(folio);
}

__rust_helper unsigned long rust_helper_folio_pfn(const struct folio *folio)
{
	return folio_pfn(folio);
}

__rust_helper int rust_helper_folio_ref_count(const struct folio *folio)
{
	return folio_ref_count(folio);
}

__rust_helper bool rust_helper_folio_ref_freeze(struct folio *folio, int count)
{
	return folio_ref_freeze(folio, count);
}

__rust_helper void rust_helper_folio_ref_unfreeze(struct folio *folio, int count)
{
	folio_ref_unfreeze(folio, count);
}

__rust_helper int rust_helper_folio_mapcount(const struct folio *folio)
{
	return folio_mapcount(folio);
}

__rust_helper bool rust_helper_folio_test_ksm(const struct folio *folio)
{
	return folio_test_ksm(folio);
}

__rust_helper bool rust_helper_folio_test_swapcache(const struct folio *folio)
{
	return folio_test_swapcache(folio);
}

__rust_helper bool rust_helper_folio_test_large(const struct folio *folio)
{
	return folio_test_large(folio);
}

__rust_helper bool rust_helper_folio_test_locked(const struct folio *folio)
{
	return folio_test_locked(folio);
}

__rust_helper bool rust_helper_folio_trylock(struct folio *folio)
{
	return folio_trylock(folio);
}

__rust_helper bool rust_helper_mm_match_folio_memcg(struct mm_struct *mm,
						    struct folio *folio)
{
	return mm_match_folio_memcg(mm, folio);
}

__rust_helper struct ksm_stable_node *rust_helper_folio_stable_node(const struct folio *folio)
{
	return folio_stable_node(folio);
}

__rust_helper pgoff_t rust_helper_linear_anon_page_index(const struct vm_area_struct *vma,
							 unsigned long address)
{
	return linear_anon_page_index(vma, address);
}
