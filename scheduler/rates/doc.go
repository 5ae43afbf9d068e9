// Package rates is the statistics of case work (及时受理率, 按期办结率, 群众满意率, the repeat
// share): computed from every case's timeline and evaluations (ComputeRates, RatesFromTimelines),
// and read from the counts the store keeps per unit and day (RatesFromCounts) whenever those give
// exactly the same answer (RatesFor).
//
// Its ports are RateStore (the kept counts) and Store (with the cases it reads). It imports org,
// calendar and casework.
package rates
