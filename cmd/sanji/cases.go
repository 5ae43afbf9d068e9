package main

import "sanji/scheduler/api"

// casesConfig is the office's settings of case documents and ratings.
type casesConfig struct {
	// DocumentHeader heads the generated documents (the office's name as printed); empty: the
	// signing unit's name.
	DocumentHeader string `yaml:"document_header"`
	// RatingWindowDays is how many days a stage may be rated after its start (0: 30).
	RatingWindowDays int `yaml:"rating_window_days"`
	// TerminalRating lets the petitioner rate at the hall terminal after a hearing.
	TerminalRating bool `yaml:"terminal_rating"`
}

func (c casesConfig) settings() api.CaseSettings {
	return api.CaseSettings{DocumentHeader: c.DocumentHeader, RatingWindowDays: c.RatingWindowDays, TerminalRating: c.TerminalRating}
}

func init() {
	settings = append(settings,
		setting{key: "cases.document_header", usage: "header printed on generated case documents (default: the signing unit's name)", set: func(c *config, v string) error {
			c.Cases.DocumentHeader = v
			return nil
		}},
		setting{key: "cases.rating_window_days", usage: "days a petitioner may rate a stage after its start, e.g. 30", set: func(c *config, v string) error {
			if err := parseInt(v, &c.Cases.RatingWindowDays); err != nil {
				return err
			}
			if c.Cases.RatingWindowDays < 0 {
				return errMsg("cmd.cases.rating_window_negative")
			}
			return nil
		}},
		setting{key: "cases.terminal_rating", usage: "let petitioners rate at the hall terminal after a hearing", isBool: true, set: func(c *config, v string) error {
			return parseBool(v, &c.Cases.TerminalRating)
		}},
	)
}
