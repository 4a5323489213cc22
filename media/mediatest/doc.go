// Package mediatest holds test helpers for media and its users: a network-impairment harness,
// signal generators and quality measures. Tests drive time with asr/clock's Fake.
package mediatest
