// Package casework is the case (信访事项) and the work on it: the one status machine with its
// timeline, petitioners, the petitioner's evaluations, what each viewer may see of a case
// (CaseViewLevel, RedactCase, the masks), attachments and their content-addressed blobs, the
// assignment and supervision slips (交办, 督办) and consultations, the petition rules' legal
// periods (Rules, DefaultRules), the case clocks and the overdue job.
//
// Its ports are CaseStore (with AttachmentStore), SlipStore, and ClockStore for the clocks and
// the job. It imports org and calendar.
package casework
