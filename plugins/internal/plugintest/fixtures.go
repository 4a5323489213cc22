package plugintest

import "github.com/mrcpd/mrcpd/asr"

// FlightsPhrase is what the stand-ins "hear" in the grammar tests: inside Flights, with the
// interpretation BOS.
const FlightsPhrase = "book a flight to boston"

// Flights is an SRGS grammar (ID "flights") whose city rule carries semantic tags, for checking
// that a vendor's free transcript is matched and interpreted.
func Flights() asr.Grammar {
	return asr.Grammar{ID: "flights", ContentType: "application/srgs+xml", Mode: "voice", Body: []byte(`<?xml version="1.0"?>
<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" root="main" xml:lang="en-US" tag-format="semantics/1.0-literals">
  <rule id="main" scope="public">
    <one-of><item>book a flight to <ruleref uri="#city"/></item><item>cancel my booking</item></one-of>
  </rule>
  <rule id="city"><one-of><item>boston<tag>BOS</tag></item><item>denver<tag>DEN</tag></item></one-of></rule>
</grammar>`)}
}
